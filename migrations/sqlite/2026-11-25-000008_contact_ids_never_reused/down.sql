-- AUTOINCREMENT is kept: handing out merged contacts' IDs again would break their undo.
SELECT 1;
