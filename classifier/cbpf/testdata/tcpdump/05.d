(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 7
(002) ldb      [14]
(003) and      #0x3c
(004) or       #0x2
(005) jgt      #0x2             jt 6	jf 7
(006) ret      #262144
(007) ret      #0
