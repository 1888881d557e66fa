; SWE-smith: remove an assignment statement.
(expression_statement [(assignment) (augmented_assignment)]) @site
