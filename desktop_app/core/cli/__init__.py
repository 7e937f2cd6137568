"""The command-line commands (classify, validate, calibrate, serve, worklist, --self-test)."""
