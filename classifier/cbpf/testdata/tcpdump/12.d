(000) ldh      [12]
(001) jeq      #0x806           jt 11	jf 2
(002) jeq      #0x8035          jt 11	jf 3
(003) jeq      #0x800           jt 4	jf 12
(004) ldb      [23]
(005) jeq      #0x1             jt 6	jf 12
(006) ldh      [20]
(007) jset     #0x1fff          jt 12	jf 8
(008) ldxb     4*([14]&0xf)
(009) ldb      [x + 14]
(010) jeq      #0x8             jt 11	jf 12
(011) ret      #262144
(012) ret      #0
