"""convtrack: self-hosted, first-party conversion tracking and attribution."""

__version__ = "0.1.0"
