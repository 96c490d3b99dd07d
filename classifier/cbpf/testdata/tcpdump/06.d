(000) ldh      [12]
(001) jeq      #0x8100          jt 4	jf 2
(002) jeq      #0x88a8          jt 4	jf 3
(003) jeq      #0x9100          jt 4	jf 8
(004) ldh      [14]
(005) and      #0xfff
(006) jeq      #0x5             jt 7	jf 8
(007) ret      #262144
(008) ret      #0
