// personas 1: set the parameters of the persona guide (edit the ids, run, then run files 2-5)
:param user => 'ml-100k:1';
:param item => 'ml-100k:50';
:param k => 5;
