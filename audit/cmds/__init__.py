"""The ``audit`` subcommands, one module each; options shared through :mod:`audit.cmds.options`."""
