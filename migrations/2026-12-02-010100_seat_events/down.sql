DROP TABLE seat_events;
