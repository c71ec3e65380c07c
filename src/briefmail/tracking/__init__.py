"""Signed tokens, link rewriting, click recording and the scanner classifier."""
