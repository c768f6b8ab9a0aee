"""Plugins shipped with the project; each subpackage holds one (see docs/plugins.md)."""
