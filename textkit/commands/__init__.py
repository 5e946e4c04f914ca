"""Command-line commands: each module parses arguments and prints, over library functions.
``textkit.cli`` wires them up; nothing below this layer prints or parses arguments."""
