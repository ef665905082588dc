"""Grammar infrastructure shared by every reader: locating and loading the `.lark` files,
and the lean LALR driver that runs Lark's own tables over one line at a time."""
