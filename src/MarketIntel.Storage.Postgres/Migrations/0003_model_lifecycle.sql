-- Placeholder on the scoring branch: version 3 belongs to the model registry's lifecycle migration, merged from
-- its own branch, which replaces this file. Migration versions must run without gaps, so 0004 needs a 3.
SELECT 1;
