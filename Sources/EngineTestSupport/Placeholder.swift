// fakes
