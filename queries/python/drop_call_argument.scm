; mutmut: drop a call argument, or set it to None.
(call arguments: (argument_list . (_))) @site
