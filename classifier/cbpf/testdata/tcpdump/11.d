(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 15
(002) ldb      [14]
(003) mod      #3
(004) jeq      #0x1             jt 14	jf 5
(005) ldb      [15]
(006) rsh      #2
(007) jeq      #0x3             jt 14	jf 8
(008) ldb      [15]
(009) lsh      #1
(010) jeq      #0x4             jt 14	jf 11
(011) ldb      [16]
(012) xor      #0x5
(013) jeq      #0x0             jt 14	jf 15
(014) ret      #262144
(015) ret      #0
