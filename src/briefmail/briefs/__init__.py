"""The brief: its typed model, the Markdown + YAML file parser, and validation errors."""
