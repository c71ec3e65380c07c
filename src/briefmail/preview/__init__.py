"""`briefmail preview`: the email a sample subscriber would get, its warnings, a live page."""
