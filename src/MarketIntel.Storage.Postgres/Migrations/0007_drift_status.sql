-- Placeholder on the lifecycle branch: version 7 belongs to the drift status migration, merged from its own
-- branch, which replaces this file. Migration versions must run without gaps, so 0008 needs a 7.
SELECT 1;
