"""Russian Roulette rooms: the pure rules, and the machinery that runs them."""
