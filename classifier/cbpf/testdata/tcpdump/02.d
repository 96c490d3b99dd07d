(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 16
(002) ldb      [23]
(003) jeq      #0x6             jt 4	jf 16
(004) ldh      [20]
(005) jset     #0x1fff          jt 16	jf 6
(006) ldxb     4*([14]&0xf)
(007) ldb      [x + 27]
(008) jset     #0x2             jt 9	jf 16
(009) ld       [26]
(010) and      #0xff000000
(011) jeq      #0xa000000       jt 15	jf 12
(012) ld       [30]
(013) and      #0xff000000
(014) jeq      #0xa000000       jt 15	jf 16
(015) ret      #262144
(016) ret      #0
