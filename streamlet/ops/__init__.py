"""Operations on a (running or stopped) application through the broker: lag and reset."""
