"""briefmail: weekly insight briefs, rendered once, sent exactly once, clicks you can trust."""

__version__ = "0.1.0"
