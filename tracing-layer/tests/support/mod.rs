pub(crate) mod capture;
