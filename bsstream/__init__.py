"""bsstream: stream audio to the Behavioral Signals streaming API and show what comes back."""

__version__ = "0.1.0"
