"""Game Hub: a real-money game platform (Spin and Win, Russian Roulette) paid through M-Pesa."""

__version__ = "0.1.0"
