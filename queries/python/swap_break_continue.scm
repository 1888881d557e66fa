; mutmut: `break` <-> `continue`.
[(break_statement) (continue_statement)] @site
