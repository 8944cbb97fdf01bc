"""Registration: programs, city rollouts and their agendas, participants."""
