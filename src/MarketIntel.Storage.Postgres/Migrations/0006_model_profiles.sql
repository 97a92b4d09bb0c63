-- Placeholder for the drift-profile branch's migration of the same name (model profiles), so that this branch's
-- migrations run 1, 2, 3, ... without a gap; that branch's file replaces this one when both meet.
SELECT 1;
