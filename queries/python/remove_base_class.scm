; SWE-smith: remove a base class from a class definition.
(class_definition superclasses: (argument_list)) @site
