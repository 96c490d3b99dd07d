(000) ldb      [0]
(001) jeq      #0x0             jt 5	jf 2
(002) ld       #pktlen
(003) jge      #0x46            jt 4	jf 5
(004) ret      #0
(005) ret      #262144
