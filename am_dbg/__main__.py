from am_dbg.cli import entry

entry()
