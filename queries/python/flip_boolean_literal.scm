; mutmut: `True` <-> `False`.
[(true) (false)] @site
