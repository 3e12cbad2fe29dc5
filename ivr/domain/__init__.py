"""Pure domain logic of the line: keypad forms, documents, dates, folios, spelling and hours."""
