DROP INDEX contacts_owner_sort;
