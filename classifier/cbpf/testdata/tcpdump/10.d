(000) ldh      [12]
(001) jeq      #0x86dd          jt 2	jf 9
(002) ldb      [20]
(003) jeq      #0x11            jt 4	jf 9
(004) ldh      [54]
(005) jeq      #0x35            jt 8	jf 6
(006) ldh      [56]
(007) jeq      #0x35            jt 8	jf 9
(008) ret      #262144
(009) ret      #0
