#! path=index.js flags=none expect=L2-OBFS-001:HIGH:3,L2-OBFS-002:HIGH:2 max=any
// Written for this test: a payload spelled as character codes.
var k = [114,101,113,117,105,114,101,40,39,99,104,105,108,100,95,112,114,111,99,101,115,115,39,41];
eval(String.fromCharCode.apply(null, k));
