"""The local console: a page ``make run`` serves on its own port, showing the pipeline."""
