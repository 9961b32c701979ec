"""Games: the catalogue, Spin and Win, provably fair seed pairs, bet history and statistics."""
