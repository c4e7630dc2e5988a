DROP TABLE saved_reports;
