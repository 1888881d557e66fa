; mutmut: off-by-one in a `range(...)` bound or a slice bound.
(call
  function: (identifier) @_fn
  arguments: (argument_list)
  (#eq? @_fn "range")) @site
(slice) @site
