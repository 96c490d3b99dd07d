(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 15
(002) ldb      [23]
(003) jeq      #0x6             jt 4	jf 15
(004) ldh      [20]
(005) jset     #0x1fff          jt 15	jf 6
(006) ldxb     4*([14]&0xf)
(007) ld       [x + 14]
(008) st       M[1]
(009) ldb      [16]
(010) tax      
(011) ld       M[1]
(012) sub      x
(013) jeq      #0x7             jt 14	jf 15
(014) ret      #262144
(015) ret      #0
