"""The public archive: every brief that went out, as web pages, an Atom feed and a
static site. Nothing on it names a reader: no tokens, no personal links, and source
links go straight to their destinations (see README, "The public archive")."""
