DROP TABLE payout_entries;
