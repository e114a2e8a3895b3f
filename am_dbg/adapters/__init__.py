"""am-dbg for machines of other libraries (extra ``[adapters]``): ``transitions`` and
``python-statemachine``, each streamed through :class:`am_rpc.dbg.RawSender` (docs/adapters.md).
Import the submodule of the library you use; neither library is imported here."""
