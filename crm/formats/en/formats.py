"""English as an airline writes it (the en-GB conventions): day month year and the 24-hour clock.

Django's own "en" formats are the US ones (month/day, "2:30 p.m."); the language code stays "en" so that
URLs, cookies and stored preferences do not change. Input formats are Django's (ISO first).
"""

DATE_FORMAT = "j M Y"  # 5 Mar 2026
TIME_FORMAT = "H:i"  # 14:30
DATETIME_FORMAT = "j M Y, H:i"  # 5 Mar 2026, 14:30
YEAR_MONTH_FORMAT = "F Y"  # March 2026
MONTH_DAY_FORMAT = "j F"  # 5 March
SHORT_DATE_FORMAT = "d/m/Y"  # 05/03/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 05/03/2026 14:30
FIRST_DAY_OF_WEEK = 1  # Monday
