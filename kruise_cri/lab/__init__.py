"""The built-in lab: real container runtimes started in temporary host roots."""
