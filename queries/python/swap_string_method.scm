; mutmut: swap a string method for its twin (`lower`/`upper`, `lstrip`/`rstrip`, ...).
(call
  function: (attribute attribute: (identifier) @_method)
  (#any-of? @_method "lower" "upper" "lstrip" "rstrip" "startswith" "endswith" "split" "rsplit" "find" "rfind" "ljust" "rjust")) @site
