//! EDF/EDF+ reader (being written).
