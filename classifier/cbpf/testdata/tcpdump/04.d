(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 9
(002) ldh      [16]
(003) mul      #3
(004) div      #2
(005) sub      #1
(006) add      #4
(007) jgt      #0x5             jt 8	jf 9
(008) ret      #262144
(009) ret      #0
