"""Pure map rules: coordinate systems, geometry and marker styles (no Django)."""
