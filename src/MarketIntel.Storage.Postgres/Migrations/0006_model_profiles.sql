-- Placeholder on the lifecycle branch: version 6 belongs to the model profiles migration, merged from its own
-- branch, which replaces this file. Migration versions must run without gaps, so 0008 needs a 6.
SELECT 1;
